// Command goclient speaks the reference Go client's wire format (LSFLK/argus pkg/audit) to an Argus
// gateway, using only the Go standard library, so the Python test suite can check that Argus
// accepts, stores and verifies what that client sends:
//
//   - JSON-array bulks of up to 20 events to POST /api/audit-logs/bulk, no `id`, `message` as
//     []byte (encoding/json writes standard base64), metadata from native Go values;
//
//   - v1 signatures (RS256 and EdDSA) over TraceID|Timestamp|...|base64(Message)|json.Marshal(Metadata);
//
//   - success judged as the reference client judges it: HTTP 200, 201 or 207, per-item errors unread.
//
//     go run . -url http://127.0.0.1:PORT -token TOKEN -keys ../signatures
//
// It prints one JSON object: every event sent (as its wire JSON) and the HTTP status of each bulk.
package main

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"argus/tests/vectors/refv1"
)

// AuditLogRequest is the reference client's wire shape (it sends no id and no signatureFormat).
type AuditLogRequest struct {
	TraceID            *string                `json:"traceId,omitempty"`
	Timestamp          string                 `json:"timestamp"`
	EventType          string                 `json:"eventType,omitempty"`
	Action             string                 `json:"action"`
	Status             string                 `json:"status"`
	ActorType          string                 `json:"actorType"`
	ActorID            string                 `json:"actorId"`
	TargetType         string                 `json:"targetType"`
	TargetID           *string                `json:"targetId,omitempty"`
	Message            []byte                 `json:"message,omitempty"`
	Metadata           map[string]interface{} `json:"metadata,omitempty"`
	Signature          string                 `json:"signature,omitempty"`
	SignatureAlgorithm string                 `json:"signatureAlgorithm,omitempty"`
	PublicKeyID        string                 `json:"publicKeyId,omitempty"`
}

// canonicalV1 is the reference client's v1 form (refv1.Canonical) of the event.
func canonicalV1(e *AuditLogRequest) ([]byte, error) {
	return refv1.Canonical(e.TraceID, e.Timestamp, e.EventType, e.Action, e.Status, e.ActorType, e.ActorID,
		e.TargetType, e.TargetID, e.Message, e.Metadata)
}

type key struct {
	id, algorithm string
	signer        crypto.Signer
}

func loadKey(path, id string) key {
	raw, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		log.Fatalf("%s: no PEM block", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		log.Fatalf("%s: %v", path, err)
	}
	switch k := parsed.(type) {
	case ed25519.PrivateKey:
		return key{id, "EdDSA", k}
	case *rsa.PrivateKey:
		return key{id, "RS256", k}
	}
	log.Fatalf("%s: unsupported key type %T", path, parsed)
	return key{}
}

func sign(e *AuditLogRequest, k key) {
	payload, err := canonicalV1(e)
	if err != nil {
		log.Fatal(err)
	}
	var sig []byte
	if k.algorithm == "EdDSA" {
		sig, err = k.signer.Sign(rand.Reader, payload, crypto.Hash(0))
	} else {
		digest := sha256.Sum256(payload)
		sig, err = k.signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	}
	if err != nil {
		log.Fatal(err)
	}
	e.Signature = base64.StdEncoding.EncodeToString(sig)
	e.SignatureAlgorithm, e.PublicKeyID = k.algorithm, k.id
}

func sp(s string) *string { return &s }

// events builds the cases issue 11 names, each signed with every key.
func events(actor string, keys []key) []AuditLogRequest {
	bigInt, _ := new(big.Int).SetString("1000000000000000000000000000000", 10)
	base := func(i int) AuditLogRequest {
		return AuditLogRequest{
			Timestamp: time.Date(2026, 3, 1, 12, 0, i, 123456789, time.UTC).Format(time.RFC3339Nano),
			EventType: "DATA_FETCH", Action: "READ", Status: "SUCCESS", ActorType: "SERVICE",
			ActorID: actor, TargetType: "RESOURCE", TargetID: sp(fmt.Sprintf("doc-%d", i)),
		}
	}
	cases := []func(i int) AuditLogRequest{
		func(i int) AuditLogRequest { // '|' in free text: the v1 string is ambiguous
			e := base(i)
			e.TargetID = sp("invoice|42|" + fmt.Sprint(i))
			e.Metadata = map[string]interface{}{"note": "a|b"}
			return e
		},
		func(i int) AuditLogRequest { // -0 (a float64), signed by json.Marshal as "-0"
			e := base(i)
			e.Metadata = map[string]interface{}{"delta": math.Copysign(0, -1), "list": []interface{}{math.Copysign(0, -1), 1.5}}
			return e
		},
		func(i int) AuditLogRequest { // keys at or above U+E000 with integers beyond 2**53 and 64 bits
			e := base(i)
			e.Metadata = map[string]interface{}{
				"😀": 1, "｡": "halfwidth", "\ue000": true, "n": int64(9007199254740993),
				"nanos": time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC).UnixNano(),
				"u64":   uint64(math.MaxUint64), "big": bigInt, "nested": map[string]interface{}{"😀": int64(-9007199254740993)},
			}
			return e
		},
		func(i int) AuditLogRequest { // a 300 KiB message
			e := base(i)
			e.Message = bytes.Repeat([]byte{byte(i), 0xff, 0x00, '|'}, 300*1024/4)
			e.Metadata = map[string]interface{}{"size": 300 * 1024}
			return e
		},
	}
	var out []AuditLogRequest
	for _, k := range keys {
		for _, make := range cases {
			e := make(len(out))
			sign(&e, k)
			out = append(out, e)
		}
	}
	for len(out)%20 != 0 || len(out) < 40 { // fill the client's default batches with 300 KiB messages
		e := cases[3](len(out))
		sign(&e, keys[len(out)%len(keys)])
		out = append(out, e)
	}
	return out
}

func main() {
	url := flag.String("url", "", "gateway base URL (loopback)")
	token := flag.String("token", "", "bearer token")
	keysDir := flag.String("keys", "../signatures", "folder with the TEST-ONLY private keys")
	actor := flag.String("actor", "go-client", "actorId of every event")
	flag.Parse()
	keys := []key{
		loadKey(filepath.Join(*keysDir, "test-ed25519-2026.private.pem"), "ed-2026"),
		loadKey(filepath.Join(*keysDir, "test-rsa-2026.private.pem"), "rsa-2026"),
	}
	all := events(*actor, keys)
	var statuses []int
	var wire []json.RawMessage
	client := &http.Client{Timeout: 120 * time.Second}
	for start := 0; start < len(all); start += 20 { // the reference client's default batch size
		batch := all[start:min(start+20, len(all))]
		body, err := json.Marshal(batch)
		if err != nil {
			log.Fatal(err)
		}
		for _, e := range batch {
			one, _ := json.Marshal(e)
			wire = append(wire, one)
		}
		request, _ := http.NewRequest(http.MethodPost, *url+"/api/audit-logs/bulk", bytes.NewReader(body))
		request.Header.Set("Content-Type", "application/json")
		request.Header.Set("Authorization", "Bearer "+*token)
		response, err := client.Do(request)
		if err != nil {
			log.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, response.Body) // the reference client never reads per-item errors
		response.Body.Close()
		statuses = append(statuses, response.StatusCode)
	}
	out, _ := json.Marshal(map[string]interface{}{"statuses": statuses, "events": wire})
	fmt.Println(string(out))
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}
