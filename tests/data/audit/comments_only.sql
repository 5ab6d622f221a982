-- issue 18: a mutated dump for `drills audit` (see tests/unit/test_audit_bad_input.py)
-- MySQL dump 10.13
/* nothing but comments */
# and a hash comment
