"""Polyaxon's input and output types (``from polyaxon import types``), for the Python form:
``V1OptimizationResource(name="num_steps", type=types.INT)``. A polyaxonfile's inputs are
checked against the ones :mod:`.operation` parses (int, float, bool, str, dict, list, date,
datetime); the others are kept as given."""

ANY = "any"
INT = "int"
FLOAT = "float"
BOOL = "bool"
STR = "str"
DICT = "dict"
LIST = "list"
DATE = "date"
DATETIME = "datetime"
URI = "uri"
PATH = "path"
