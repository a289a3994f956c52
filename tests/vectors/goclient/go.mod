module argus/tests/vectors/goclient

go 1.19
