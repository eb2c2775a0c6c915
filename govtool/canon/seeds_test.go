package canon

import "testing"

func fuzzSeeds(f *testing.F) [][]byte {
	return [][]byte{
		[]byte(`{"a":[1,-2,{"b":null,"c":true}],"d":"\u00e9\ud83d\ude00\n"}`),
		[]byte(`[1e20, 1E30, 0.5, -0, 333333333.33333329]`),
		[]byte("{\n  \"a\": [\n    1\n  ]\n}\n"),
		[]byte(`{"\u20ac":1,"\r":2,"\ufb33":3}`),
	}
}
