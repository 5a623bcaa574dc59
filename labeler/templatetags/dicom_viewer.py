from django import template

from labeler.models import Item, Project

register = template.Library()


@register.filter
def has_dicom_items(project: Project) -> bool:
    """Whether the labeling page needs the DICOM viewer: one indexed lookup per page load."""
    if project is None or project.kind != Project.Kind.IMAGE:
        return False
    return Item.objects.filter(project=project, metadata__has_key="dicom").exists()
