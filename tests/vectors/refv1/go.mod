module argus/tests/vectors/refv1

go 1.19
