"""Reference solutions and checks of the exercises, one module per lesson: ``lesson_01`` ... ``lesson_06``.

For teachers (students: try first). ``teaching.exercises`` imports these modules on first use;
each registers its lesson's exercises. Print one with ``exercises.print_solution("02.readout_scalar")``.
"""
