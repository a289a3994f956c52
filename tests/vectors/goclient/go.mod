module argus/tests/vectors/goclient

go 1.19

require argus/tests/vectors/refv1 v0.0.0

replace argus/tests/vectors/refv1 => ../refv1
