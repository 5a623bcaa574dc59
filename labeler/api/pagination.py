"""Cursor pagination: stable pages over lists that grow while a script reads them, and no
``COUNT(*)`` or ``OFFSET`` over a large pool."""

from rest_framework.pagination import CursorPagination


class OldestFirstCursorPagination(CursorPagination):
    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class NewestFirstCursorPagination(OldestFirstCursorPagination):
    ordering = "-id"
