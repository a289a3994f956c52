package main

// The two canonical forms, written independently of the Python code:
//   v1 — the reference Go client's pipe-joined string (re-implemented from its documented rules),
//   v2 — RFC 8785 (JCS) of a fixed object, so a Go client can produce Argus v2 signatures too.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"argus/tests/vectors/refv1"
)

// AuditLogRequest has the reference client's wire shape plus Argus' optional id/signatureFormat.
type AuditLogRequest struct {
	ID                 *string                `json:"id,omitempty"`
	TraceID            *string                `json:"traceId,omitempty"`
	Timestamp          string                 `json:"timestamp"`
	EventType          string                 `json:"eventType,omitempty"`
	Action             string                 `json:"action"`
	Status             string                 `json:"status"`
	ActorType          string                 `json:"actorType"`
	ActorID            string                 `json:"actorId"`
	TargetType         string                 `json:"targetType"`
	TargetID           *string                `json:"targetId,omitempty"`
	Message            []byte                 `json:"message"`
	Metadata           map[string]interface{} `json:"metadata,omitempty"`
	Signature          string                 `json:"signature,omitempty"`
	SignatureAlgorithm string                 `json:"signatureAlgorithm,omitempty"`
	PublicKeyID        string                 `json:"publicKeyId,omitempty"`
	SignatureFormat    string                 `json:"signatureFormat,omitempty"`
}

// canonicalV1 is the reference client's v1 form (refv1.Canonical) of the event.
func canonicalV1(e *AuditLogRequest) ([]byte, error) {
	return refv1.Canonical(e.TraceID, e.Timestamp, e.EventType, e.Action, e.Status, e.ActorType, e.ActorID,
		e.TargetType, e.TargetID, e.Message, e.Metadata)
}

func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// canonicalV2 is JCS({"format":"argus.sig.v2", id, traceId, ..., publicKeyId, signatureAlgorithm}),
// absent or empty values as null, empty metadata as null.
func canonicalV2(e *AuditLogRequest) ([]byte, error) {
	var metadata any
	if len(e.Metadata) > 0 {
		metadata = e.Metadata
	}
	var message any
	if len(e.Message) > 0 {
		message = base64.StdEncoding.EncodeToString(e.Message)
	}
	obj := map[string]any{
		"format": "argus.sig.v2", "id": orNil(refv1.Deref(e.ID)), "traceId": orNil(refv1.Deref(e.TraceID)),
		"timestamp": orNil(e.Timestamp), "eventType": orNil(e.EventType), "action": orNil(e.Action),
		"status": orNil(e.Status), "actorType": orNil(e.ActorType), "actorId": orNil(e.ActorID),
		"targetType": orNil(e.TargetType), "targetId": orNil(refv1.Deref(e.TargetID)), "message": message,
		"metadata": metadata, "publicKeyId": orNil(e.PublicKeyID), "signatureAlgorithm": orNil(e.SignatureAlgorithm),
	}
	return appendJCS(nil, obj)
}

func utf16Less(a, b string) bool {
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			return ua[i] < ub[i]
		}
	}
	return len(ua) < len(ub)
}

func appendJCSString(b []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("jcs: invalid UTF-8 in %q", s)
	}
	b = append(b, '"')
	for _, r := range s {
		switch r {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			if r < 0x20 {
				b = append(b, fmt.Sprintf("\\u%04x", r)...)
			} else {
				b = utf8.AppendRune(b, r)
			}
		}
	}
	return append(b, '"'), nil
}

func appendJCSInt(b []byte, n int64) ([]byte, error) {
	if n > 1<<53-1 || n < -(1<<53-1) {
		return nil, fmt.Errorf("jcs: integer %d is outside the IEEE 754 safe range", n)
	}
	return strconv.AppendInt(b, n, 10), nil
}

func appendJCS(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return appendJCSString(b, x)
	case int:
		return appendJCSInt(b, int64(x))
	case int64:
		return appendJCSInt(b, x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("jcs: %v is not a JSON number", x)
		}
		if x == 0 {
			return append(b, '0'), nil // ECMAScript prints -0 as 0
		}
		// ECMAScript Number::toString and Go's encoding/json agree for every other float64.
		out, err := json.Marshal(x)
		return append(b, out...), err
	case []any:
		b = append(b, '[')
		for i, item := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJCS(b, item); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return utf16Less(keys[i], keys[j]) })
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJCSString(b, k); err != nil {
				return nil, err
			}
			b = append(b, ':')
			if b, err = appendJCS(b, x[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	return nil, fmt.Errorf("jcs: unsupported type %T", v)
}
