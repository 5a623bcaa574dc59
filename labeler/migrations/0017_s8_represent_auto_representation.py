from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("labeler", "0016_merge_issues_21_to_24"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="auto_representation",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
    ]
