"""The label-efficiency benchmark's parts; bench/label_efficiency.py is its command."""
