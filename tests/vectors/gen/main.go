// Command gen writes Argus' signature test vectors using only the Go standard library.
//
//	cd tests/vectors/gen && go run . -out ../signatures
//
// Outputs (in -out): gojson.json (encoding/json behaviour), go_v1.json (events signed exactly as
// the reference Go client pkg/audit signs them), go_v2.json (Argus v2 / JCS, signed from Go), and
// ed25519_edge.json (Ed25519 strictness edge cases) and the TEST-ONLY key pairs as PEM.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"runtime"
)

func sp(s string) *string { return &s }

func baseEvent() AuditLogRequest {
	return AuditLogRequest{
		Timestamp: "2026-03-01T12:00:00Z", Action: "READ", Status: "SUCCESS",
		ActorType: "SERVICE", ActorID: "orders-svc", TargetType: "RESOURCE",
	}
}

func richMetadata() map[string]interface{} {
	return map[string]interface{}{
		"requestId": "c0ffee-42", "latencyMs": 12.5, "retries": 3, "ratio": 0.1,
		"html": "<b>Tom & Jerry</b>", "unicode": "café 日本 😀", "controls": "\b\f\n\r\t\x01\x7f",
		"separators": "a\u2028b\u2029c", "pipe": "a|b", "ok": true, "nothing": nil,
		"nested":   map[string]interface{}{"z": 1, "a": []interface{}{true, nil, 0.1, 1e21, 1e-7, -1.5, "x"}},
		"emptyMap": map[string]interface{}{}, "emptyList": []interface{}{},
		"\ue000key": "private use key sorts before 😀 in UTF-16, after it in UTF-8", "😀": "astral key",
	}
}

type eventCase struct {
	Name   string
	Event  AuditLogRequest
	Keys   []string
	Expect any
}

func v1Cases() []eventCase {
	all := []string{"test-ed25519-2026", "test-rsa-2026"}
	full := baseEvent()
	full.TraceID = sp("0192f0c4-5e6a-7b8c-9d0e-1f2a3b4c5d6e")
	full.EventType = "DATA_FETCH"
	full.TargetID = sp("invoice-42")
	full.Message = []byte("{\"query\":\"select 1\"}\x00\xff\xfe")
	full.Metadata = richMetadata()
	full.Metadata["nanos"] = int64(1767225600123456789) // native int64 beyond 2**53: signed exactly
	full.Metadata["u64max"] = uint64(18446744073709551615)

	offset := baseEvent()
	offset.Timestamp = "2026-03-01T17:30:00.123456789+05:30"
	offset.Action = "UPDATE"
	offset.Status = "FAILURE"
	offset.ActorType = "ADMIN"
	offset.ActorID = "admin@example.com"
	offset.TargetType = "SERVICE"
	offset.TargetID = sp("billing")

	empty := baseEvent()
	empty.Message = []byte{}
	empty.Metadata = map[string]interface{}{}

	forwarded := baseEvent()
	if err := json.Unmarshal([]byte(`{"count":9007199254740993,"f":1.0,"e":1e21,"s":"<x>"}`), &forwarded.Metadata); err != nil {
		panic(err)
	}

	ambiguous := baseEvent()
	ambiguous.ActorID = "alice|SERVICE"
	ambiguous.TargetType = "RESOURCE"

	negativeZero := baseEvent()
	negativeZero.Metadata = map[string]interface{}{
		"delta": math.Copysign(0, -1), "list": []interface{}{math.Copysign(0, -1), 0.0, -1.5},
		"\U0001F600": int64(9007199254740993), "\uff61": uint64(18446744073709551615),
	}

	old := baseEvent()
	old.Timestamp = "2025-06-30T23:59:59.999Z"
	return []eventCase{
		{"minimal", baseEvent(), all, nil},
		{"full", full, all, nil},
		{"nanosecond timestamp with offset", offset, all, nil},
		{"empty message and metadata", empty, all, nil},
		{"forwarded float64 metadata", forwarded, all, nil},
		{"ambiguous actorId", ambiguous, all, nil},
		{"negative zero and big integers under emoji keys", negativeZero, all, nil},
		{"signed with the 2025 key", old, []string{"test-ed25519-2025"}, nil},
	}
}

func v2Cases() []eventCase {
	all := []string{"test-ed25519-2026", "test-rsa-2026"}
	full := baseEvent()
	full.ID = sp("0192f0c4-0000-7000-8000-000000000001")
	full.TraceID = sp("0192f0c4-5e6a-7b8c-9d0e-1f2a3b4c5d6e")
	full.EventType = "DATA_FETCH"
	full.TargetID = sp("invoice-42")
	full.Message = []byte("payload\x00\xff")
	full.Metadata = richMetadata()

	minimal := baseEvent()
	minimal.ID = sp("0192f0c4-0000-7000-8000-000000000002")

	pipes := baseEvent()
	pipes.ID = sp("0192f0c4-0000-7000-8000-000000000003")
	pipes.ActorID = "alice|SERVICE"
	pipes.TargetID = sp("a|b|c")
	return []eventCase{{"v2 full", full, all, nil}, {"v2 minimal", minimal, all, nil}, {"v2 pipes are fine", pipes, all, nil}}
}

func signCases(cases []eventCase, format string, keys map[string]testKey) ([]map[string]any, error) {
	var out []map[string]any
	for _, c := range cases {
		for _, keyID := range c.Keys {
			key := keys[keyID]
			e := c.Event
			var canonical []byte
			var err error
			if format == "v1" {
				canonical, err = canonicalV1(&e) // v1 does not cover the fields set below
			} else {
				e.SignatureFormat, e.PublicKeyID, e.SignatureAlgorithm = "v2", key.ID, key.Algorithm
				canonical, err = canonicalV2(&e)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.Name, err)
			}
			sig, err := signPayload(key, canonical)
			if err != nil {
				return nil, err
			}
			e.Signature = base64.StdEncoding.EncodeToString(sig)
			e.SignatureAlgorithm, e.PublicKeyID = key.Algorithm, key.ID
			wire, err := json.Marshal(&e)
			if err != nil {
				return nil, err
			}
			out = append(out, map[string]any{
				"name": c.Name, "keyId": key.ID, "format": format, "wire": string(wire),
				"canonical": string(canonical), "signature": e.Signature, "expect": c.Expect,
			})
		}
	}
	return out, nil
}

func writeJSON(path string, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func main() {
	outDir := flag.String("out", "../signatures", "output folder")
	flag.Parse()
	keys := map[string]testKey{}
	for _, make := range []func() (testKey, error){
		func() (testKey, error) { return ed25519Key(*outDir, "test-ed25519-2026") },
		func() (testKey, error) { return ed25519Key(*outDir, "test-ed25519-2025") },
		func() (testKey, error) { return rsaKey(*outDir, "test-rsa-2026") },
	} {
		k, err := make()
		if err != nil {
			log.Fatal(err)
		}
		keys[k.ID] = k
	}
	keyInfo := map[string]any{}
	for id, k := range keys {
		keyInfo[id] = map[string]string{"algorithm": k.Algorithm, "pemFile": id + ".pem", "publicKeyPem": k.PublicPEM}
	}
	generator := "tests/vectors/gen with " + runtime.Version()
	gj, err := gojsonVectors()
	if err != nil {
		log.Fatal(err)
	}
	gj["generator"] = generator
	for format, cases := range map[string][]eventCase{"v1": v1Cases(), "v2": v2Cases()} {
		vectors, err := signCases(cases, format, keys)
		if err != nil {
			log.Fatal(err)
		}
		doc := map[string]any{"generator": generator, "keys": keyInfo, "vectors": vectors}
		if err := writeJSON(filepath.Join(*outDir, "go_"+format+".json"), doc); err != nil {
			log.Fatal(err)
		}
	}
	edge := map[string]any{"generator": generator, "keys": keyInfo, "vectors": edgeVectors(keys["test-ed25519-2026"])}
	if err := writeJSON(filepath.Join(*outDir, "ed25519_edge.json"), edge); err != nil {
		log.Fatal(err)
	}
	if err := writeJSON(filepath.Join(*outDir, "gojson.json"), gj); err != nil {
		log.Fatal(err)
	}
}
