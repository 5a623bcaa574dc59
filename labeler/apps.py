from django.apps import AppConfig


class LabelerConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "labeler"
    verbose_name = "Tweezers labeling"
