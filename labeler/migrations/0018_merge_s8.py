# The three branches of session 8 each added a migration on 0016.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("labeler", "0017_s8_load_ranking"),
        ("labeler", "0017_s8_represent_auto_representation"),
        ("labeler", "0017_s8_tabs_lease_tab_job_language"),
    ]

    operations = []
