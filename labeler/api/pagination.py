"""Cursor pagination: stable pages over lists that grow while a script reads them, and no
``COUNT(*)`` or ``OFFSET`` over a large pool."""

from django.core.exceptions import ValidationError
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination


class OldestFirstCursorPagination(CursorPagination):
    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None:
            return cursor
        # The position is a value of the ordering field: a tampered one must be a 404 like
        # any other invalid cursor, not a database error.
        field_name = self.ordering.lstrip("-") if isinstance(self.ordering, str) else "id"
        try:
            model = self._queryset_model
            model._meta.get_field(field_name).to_python(cursor.position)
            if field_name == "id" and not -(2**63) <= int(cursor.position) < 2**63:
                raise ValueError(cursor.position)
        except (ValidationError, ValueError, TypeError, OverflowError) as error:
            raise NotFound(self.invalid_cursor_message) from error
        return cursor

    def paginate_queryset(self, queryset, request, view=None):
        self._queryset_model = queryset.model
        return super().paginate_queryset(queryset, request, view)


class NewestFirstCursorPagination(OldestFirstCursorPagination):
    ordering = "-id"
