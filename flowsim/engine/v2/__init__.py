"""Model v2: families as bundles of lasting problems (see DESIGN.md, "The model (v2 ...)").

Selected by ``model.structure = "problems"``; the ladder model (v1) stays the
default until v2 fits its targets, then replaces it.
"""
