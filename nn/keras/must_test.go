package keras

// must returns v, panicking on err: for test inputs built from constants,
// such as must(data.FromFloat64s(vals, dt, rows, cols)).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
