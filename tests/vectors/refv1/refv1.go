// Package refv1 is the reference Go client's (LSFLK/argus pkg/audit) v1 canonical form, written
// once for the Go programs under tests/vectors (gen makes the signature vectors, goclient speaks
// the reference client's wire format), independently of the Python code.
package refv1

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// Deref is the text of an optional field, "" when absent (as pkg/audit writes it).
func Deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Canonical is TraceID|Timestamp|EventType|Action|Status|ActorType|ActorID|TargetType|TargetID|
// base64(Message)|json.Marshal(Metadata) with "{}" for a nil map, exactly as pkg/audit's
// CanonicalizeRequest builds it.
func Canonical(traceID *string, timestamp, eventType, action, status, actorType, actorID, targetType string,
	targetID *string, message []byte, metadata map[string]interface{}) ([]byte, error) {
	metadataJSON := "{}"
	if metadata != nil {
		b, err := json.Marshal(metadata)
		if err != nil {
			return nil, err
		}
		metadataJSON = string(b)
	}
	return []byte(fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s",
		Deref(traceID), timestamp, eventType, action, status, actorType, actorID,
		targetType, Deref(targetID), base64.StdEncoding.EncodeToString(message), metadataJSON)), nil
}
