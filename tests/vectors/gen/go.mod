module argus/tests/vectors/gen

go 1.24
