module argus/tests/vectors/gen

go 1.24

require argus/tests/vectors/refv1 v0.0.0

replace argus/tests/vectors/refv1 => ../refv1
