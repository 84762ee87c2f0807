"""Side effects that workflows ask for, as classes that receive their dependencies."""
