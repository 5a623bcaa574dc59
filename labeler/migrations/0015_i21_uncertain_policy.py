from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("labeler", "0014_i21_findings"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="uncertain_policy",
            field=models.CharField(
                choices=[
                    ("ignore", "Leave out of training"),
                    ("ones", "Train as present"),
                    ("zeros", "Train as absent"),
                ],
                default="ignore",
                max_length=8,
            ),
        ),
    ]
