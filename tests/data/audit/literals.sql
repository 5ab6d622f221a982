-- issue 18: a mutated dump for `drills audit` (see tests/unit/test_audit_bad_input.py)
-- every literal form mysqldump / mariadb-dump write into VALUES
USE `app`;
CREATE TABLE `lit` (`id` int NOT NULL, `b` varbinary(8), `bits` bit(8), `j` json, `f` double, `s` varchar(32), PRIMARY KEY (`id`));
INSERT INTO `lit` VALUES (1,0x616263,b'101',_utf8mb4'{\"a\": 1}' COLLATE utf8mb4_bin,-1.5e-10,'it''s'),(2,X'6162',0b11,_binary 'x\'y',1.7976931348623157e308,N'n'),(-3,_binary 0x41,B'',NULL,-0,'a\\b\n'),(4,x'',b'1',_latin1'caf',1E+15,'tab\there');
