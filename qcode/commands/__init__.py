"""Front-door commands that live in their own modules; `qcode.cli` registers them."""
