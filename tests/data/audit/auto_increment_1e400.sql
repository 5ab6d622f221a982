-- issue 18: a mutated dump for `drills audit` (see tests/unit/test_audit_bad_input.py)
USE `app`;
CREATE TABLE `t` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=1e400;
