"""Chapter helpers: code that one chapter of the book alone uses.

The rule: a function a *user of the library* would call belongs in the core (``aelib.*``); an
experiment driver, table or one-off figure that only one chapter needs belongs in
``aelib.chapters.chNN_name`` beside that chapter. The core never imports from here; a chapter
helper is imported only by its notebook and its tests. ``_diagram`` holds the drawing primitives
the chapters' schematic diagrams share.
"""
