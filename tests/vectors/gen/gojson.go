package main

// Vectors for spec/argus_spec/gojson.py: what Go's encoding/json really prints.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
)

var gojsonInputs = []struct{ Name, JSON string }{
	{"empty object", `{}`},
	{"empty array", `[]`},
	{"scalars", `{"t":true,"f":false,"n":null,"s":"","i":0}`},
	{"key order ascii", `{"b":1,"a":2,"A":3,"_":4,"aa":5,"a b":6,"":7,"~":8,"0":9}`},
	{"nested", `{"z":{"y":[1,2,{"x":null,"w":[[],{}]}],"a":true},"arr":[],"obj":{},"deep":[[[["x"]]]]}`},
	{"unicode", `{"é":"café","日本":"語","emoji":"😀 \ud83d\ude00 👍🏽","\ud83d\ude00 astral key":1,"\ufffd":"replacement","\uffff":"max bmp","\ue000":"private use","z":"last ascii"}`},
	{"key order utf8 vs utf16", `{"\ue000":1,"\ud800\udc00":2,"\uffff":3,"\u00ff":4,"\u0100":5,"a":6}`},
	{"html", `{"html":"<script>alert('x') && \"y\"</script>","amp&key<>":"v","mixed":"a<b>c&d"}`},
	{"controls", `{"c":"\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f\u007f","q":"quote\" backslash\\ slash/"}`},
	{"line separators", `{"ls":"a\u2028b\u2029c","k\u2028":"v"}`},
	{"lone surrogates", `{"lone":"a\ud800b","reversed":"\udc00\ud800","tail":"x\udbff","lone key \udfff":1}`},
	{"big ints", `{"maxSafe":9007199254740991,"p53":9007199254740992,"p53plus1":9007199254740993,"neg":-9007199254740993,"i64max":9223372036854775807,"i64min":-9223372036854775808,"u64max":18446744073709551615,"huge":123456789012345678901234567890,"nanos":1767225600123456789}`},
	{"floats", `{"a":[1e21,1e20,999999999999999999999,123456789012345678901,1e-7,1e-6,0.000001,0.0000001,0.1,0.2,0.30000000000000004,-0.0,0,0.0,1.0,-1.5,1e308,5e-324,2.2250738585072014e-308,1.7976931348623157e308]}`},
	{"more floats", `{"b":[123456789.123456789,1e16,1.5e16,12345678901234567890.0,100,1E2,1e+2,-1e-7,3.14159,2.5e-5,1e100,1.1e-100,9007199254740993.0,0.1e1,4.35,1e-5,-1e21,1.0000000000000002]}`},
	{"array top", `[1,"two",3.5,null,true,{"k":"v"},[]]`},
	{"string top", `"<&>\u2028"`},
	{"long string", `{"s":"` + strings.Repeat("abc<>&é😀\\n", 50) + `"}`},
	{"event metadata", `{"requestId":"c0ffee","ip":"10.0.0.1","userAgent":"Mozilla/5.0 (X11)","latencyMs":12.5,"retries":0,"tags":["a","b"],"ok":true}`},
}

// exactNumbers decodes with UseNumber and turns integer literals into *big.Int (printed as the
// exact decimal, like a native Go int) and other numbers into float64: what a Go client holding
// native integers signs.
func exactNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			n, ok := new(big.Int).SetString(s, 10)
			if ok {
				return n
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			panic(err)
		}
		return f
	case map[string]any:
		for k, item := range x {
			x[k] = exactNumbers(item)
		}
	case []any:
		for i, item := range x {
			x[i] = exactNumbers(item)
		}
	}
	return v
}

func gojsonVectors() (map[string]any, error) {
	cases := []map[string]any{}
	for _, in := range gojsonInputs {
		var decoded any
		if err := json.Unmarshal([]byte(in.JSON), &decoded); err != nil {
			return nil, fmt.Errorf("%s: %w", in.Name, err)
		}
		float64Out, err := json.Marshal(decoded)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in.Name, err)
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(in.JSON)))
		dec.UseNumber()
		var numbers any
		if err := dec.Decode(&numbers); err != nil {
			return nil, err
		}
		exactOut, err := json.Marshal(exactNumbers(numbers))
		if err != nil {
			return nil, err
		}
		cases = append(cases, map[string]any{
			"name": in.Name, "input": in.JSON, "float64": string(float64Out), "exact": string(exactOut),
		})
	}
	return map[string]any{"cases": cases, "floats": floatVectors()}, nil
}

// floatVectors: [hex of float64 bits, json.Marshal output] for random and edge-case doubles.
func floatVectors() [][2]string {
	rng := rand.New(rand.NewPCG(2026, 8785))
	var values []float64
	for len(values) < 1500 {
		f := math.Float64frombits(rng.Uint64())
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			values = append(values, f)
		}
	}
	for i := 0; i < 800; i++ {
		s := fmt.Sprintf("%d.%de%d", rng.IntN(100000), rng.IntN(1000000), rng.IntN(60)-30)
		f, _ := strconv.ParseFloat(s, 64)
		values = append(values, f, -f)
	}
	for i := 0; i < 300; i++ {
		values = append(values, float64(rng.Uint64()>>uint(rng.IntN(64))))
	}
	for _, edge := range []float64{1e-6, 1e-7, 1e21, 1e20, 1 << 53, 1e16, 1e15, 5e-324, math.MaxFloat64, 0.1, 1} {
		for _, f := range []float64{edge, math.Nextafter(edge, 0), math.Nextafter(edge, math.Inf(1))} {
			values = append(values, f, -f)
		}
	}
	values = append(values, math.Copysign(0, -1), 0)
	out := make([][2]string, 0, len(values))
	for _, f := range values {
		if math.IsInf(f, 0) {
			continue
		}
		b, err := json.Marshal(f)
		if err != nil {
			panic(err)
		}
		out = append(out, [2]string{fmt.Sprintf("%016x", math.Float64bits(f)), string(b)})
	}
	return out
}
