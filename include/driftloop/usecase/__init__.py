"""Use cases: the spec every stage reads (``spec``), the active use case and its files (``active``), Feast objects
built from a spec (``feast_objects``) and the template a new use case starts from (``template``)."""
