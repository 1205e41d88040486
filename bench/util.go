package bench

import (
	"encoding/binary"
	"math"

	"gorgonia.org/tensor"
)

var graphFloat64 = tensor.Float64

func putFloat64(b []byte, v float64) { binary.LittleEndian.PutUint64(b, math.Float64bits(v)) }
