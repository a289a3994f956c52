// Command interop checks Argus' transparency log against the Go reference implementations:
// checkpoints (C2SP signed notes) with golang.org/x/mod/sumdb/note, leaf hashes, roots,
// inclusion and consistency proofs with github.com/transparency-dev/merkle.
//
//	cd tests/vectors/interop && go run . ../transparency/vectors.json [claims.json ...]
//
// vectors.json: the committed test vectors (docs/transparency.md, section 7); the entry bytes are
// re-encoded here from their fields, independently of the Python code. A claims file holds what
// a running Argus served (tests/integration/test_transparency.py writes it): signed checkpoints,
// and inclusion and consistency proofs against them. Any failure exits 1.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

type entry struct {
	Topic       string `json:"topic"`
	Partition   uint32 `json:"partition"`
	Offset      uint64 `json:"offset"`
	CommitSeq   uint64 `json:"commitSeq"`
	CurrentHash string `json:"currentHash"`
	Entry       string `json:"entry"`
	LeafHash    string `json:"leafHash"`
	NotInTree   bool   `json:"notInTree"`
}

type inclusion struct {
	Index    uint64   `json:"index"`
	Size     uint64   `json:"size"`
	Path     []string `json:"path"`
	LeafHash string   `json:"leafHash"` // claims only
	Root     string   `json:"root"`     // claims only
	Origin   string   `json:"origin"`   // claims only
}

type consistency struct {
	First      uint64   `json:"first"`
	Second     uint64   `json:"second"`
	Proof      []string `json:"proof"`
	FirstRoot  string   `json:"firstRoot"`  // claims only
	SecondRoot string   `json:"secondRoot"` // claims only
	Origin     string   `json:"origin"`     // claims only
}

type checkpoint struct {
	Size uint64 `json:"size"`
	Note string `json:"note"`
}

type document struct {
	LogVerifierKey string        `json:"logVerifierKey"`
	RFC6962        *rfcVectors   `json:"rfc6962"`
	Entries        []entry       `json:"entries"`
	Roots          []string      `json:"roots"`
	Inclusion      []inclusion   `json:"inclusion"`
	Consistency    []consistency `json:"consistency"`
	Checkpoints    []checkpoint  `json:"checkpoints"`
}

type rfcVectors struct {
	Entries []string `json:"entries"`
	Roots   []string `json:"roots"`
}

var failures int

func fail(format string, args ...any) {
	failures++
	fmt.Printf("FAIL: "+format+"\n", args...)
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		fail("bad hex %q: %v", s, err)
	}
	return b
}

func unhexAll(list []string) [][]byte {
	out := make([][]byte, len(list))
	for i, s := range list {
		out[i] = unhex(s)
	}
	return out
}

// encodeEntry is docs/transparency.md section 2, written from the spec.
func encodeEntry(e entry) []byte {
	var b bytes.Buffer
	b.WriteByte(1)
	_ = binary.Write(&b, binary.BigEndian, uint16(len(e.Topic)))
	b.WriteString(e.Topic)
	_ = binary.Write(&b, binary.BigEndian, e.Partition)
	_ = binary.Write(&b, binary.BigEndian, e.Offset)
	_ = binary.Write(&b, binary.BigEndian, e.CommitSeq)
	b.Write(unhex(e.CurrentHash))
	return b.Bytes()
}

func rootOf(leaves [][]byte) []byte {
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := rf.NewEmptyRange(0)
	for _, leaf := range leaves {
		if err := r.Append(leaf, nil); err != nil {
			fail("compact append: %v", err)
		}
	}
	if len(leaves) == 0 {
		return rfc6962.DefaultHasher.EmptyRoot()
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		fail("compact root: %v", err)
	}
	return root
}

// openCheckpoint verifies a signed note and parses the C2SP tlog-checkpoint body.
func openCheckpoint(verifiers note.Verifiers, text string) (origin string, size uint64, root []byte, ok bool) {
	n, err := note.Open([]byte(text), verifiers)
	if err != nil {
		fail("note.Open: %v\n%s", err, text)
		return "", 0, nil, false
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		fail("checkpoint body malformed: %q", n.Text)
		return "", 0, nil, false
	}
	size, err = strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size: %v", err)
		return "", 0, nil, false
	}
	root, err = base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		fail("checkpoint root: %v", err)
		return "", 0, nil, false
	}
	// A tampered note must not open.
	tampered := strings.Replace(text, lines[1]+"\n", strconv.FormatUint(size+1, 10)+"\n", 1)
	if _, err := note.Open([]byte(tampered), verifiers); err == nil {
		fail("a note with a changed size still opened")
	}
	return lines[0], size, root, true
}

func flip(b []byte) []byte {
	c := append([]byte(nil), b...)
	c[0] ^= 1
	return c
}

func checkInclusion(p inclusion, leaf, root []byte) {
	path := unhexAll(p.Path)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.Index, p.Size, leaf, path, root); err != nil {
		fail("inclusion %d in %d: %v", p.Index, p.Size, err)
	}
	if proof.VerifyInclusion(rfc6962.DefaultHasher, p.Index, p.Size, flip(leaf), path, root) == nil {
		fail("inclusion %d in %d verified a wrong leaf", p.Index, p.Size)
	}
}

func checkConsistency(c consistency, first, second []byte) {
	hashes := unhexAll(c.Proof)
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, c.First, c.Second, hashes, first, second); err != nil {
		fail("consistency %d -> %d: %v", c.First, c.Second, err)
	}
	if c.First > 0 && c.First < c.Second &&
		proof.VerifyConsistency(rfc6962.DefaultHasher, c.First, c.Second, hashes, first, flip(second)) == nil {
		fail("consistency %d -> %d verified a wrong root", c.First, c.Second)
	}
}

func load(path string) document {
	raw, err := os.ReadFile(path)
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	var d document
	if err := json.Unmarshal(raw, &d); err != nil {
		fmt.Println(path, err)
		os.Exit(2)
	}
	return d
}

func verifiersOf(key string) note.Verifiers {
	v, err := note.NewVerifier(key)
	if err != nil {
		fmt.Println("log verifier key:", err)
		os.Exit(2)
	}
	return note.VerifierList(v)
}

func checkVectors(d document) {
	verifiers := verifiersOf(d.LogVerifierKey)
	rfcLeaves := [][]byte{}
	for i, e := range d.RFC6962.Entries {
		rfcLeaves = append(rfcLeaves, rfc6962.DefaultHasher.HashLeaf(unhex(e)))
		if got := hex.EncodeToString(rootOf(rfcLeaves)); got != d.RFC6962.Roots[i+1] {
			fail("RFC 6962 root of %d leaves: %s, vectors say %s", i+1, got, d.RFC6962.Roots[i+1])
		}
	}
	leaves := [][]byte{}
	for i, e := range d.Entries {
		encoded := encodeEntry(e)
		if hex.EncodeToString(encoded) != e.Entry {
			fail("entry %d: Go encodes %x, vectors say %s", i, encoded, e.Entry)
		}
		leaf := rfc6962.DefaultHasher.HashLeaf(encoded)
		if hex.EncodeToString(leaf) != e.LeafHash {
			fail("entry %d: leaf hash %x, vectors say %s", i, leaf, e.LeafHash)
		}
		if !e.NotInTree {
			leaves = append(leaves, leaf)
		}
	}
	for n := range d.Roots {
		if got := hex.EncodeToString(rootOf(leaves[:n])); got != d.Roots[n] {
			fail("root of %d leaves: %s, vectors say %s", n, got, d.Roots[n])
		}
	}
	for _, p := range d.Inclusion {
		checkInclusion(p, leaves[p.Index], unhex(d.Roots[p.Size]))
	}
	for _, c := range d.Consistency {
		checkConsistency(c, unhex(d.Roots[c.First]), unhex(d.Roots[c.Second]))
	}
	for _, c := range d.Checkpoints {
		_, size, root, ok := openCheckpoint(verifiers, c.Note)
		if ok && (size != c.Size || hex.EncodeToString(root) != d.Roots[size]) {
			fail("checkpoint of size %d does not hold root %s", c.Size, d.Roots[size])
		}
	}
	fmt.Printf("vectors: %d entries, %d roots, %d inclusion and %d consistency proofs, %d checkpoints\n",
		len(d.Entries), len(d.Roots), len(d.Inclusion), len(d.Consistency), len(d.Checkpoints))
}

// checkClaims: every checkpoint opens, and every proof leads to the root of a checkpoint of its size.
func checkClaims(d document) {
	verifiers := verifiersOf(d.LogVerifierKey)
	roots := map[string]string{} // origin and size -> root hex
	key := func(origin string, size uint64) string { return origin + "\n" + strconv.FormatUint(size, 10) }
	for _, c := range d.Checkpoints {
		if origin, size, root, ok := openCheckpoint(verifiers, c.Note); ok {
			roots[key(origin, size)] = hex.EncodeToString(root)
		}
	}
	for _, p := range d.Inclusion {
		if roots[key(p.Origin, p.Size)] != p.Root {
			fail("inclusion proof for size %d names a root no checkpoint signed", p.Size)
		}
		checkInclusion(p, unhex(p.LeafHash), unhex(p.Root))
	}
	for _, c := range d.Consistency {
		if roots[key(c.Origin, c.First)] != c.FirstRoot || roots[key(c.Origin, c.Second)] != c.SecondRoot {
			fail("consistency proof %d -> %d names roots no checkpoint signed", c.First, c.Second)
		}
		checkConsistency(c, unhex(c.FirstRoot), unhex(c.SecondRoot))
	}
	fmt.Printf("claims: %d checkpoints, %d inclusion and %d consistency proofs\n",
		len(d.Checkpoints), len(d.Inclusion), len(d.Consistency))
}

func main() {
	if len(os.Args) < 2 {
		fmt.Println("usage: interop vectors.json [claims.json ...]")
		os.Exit(2)
	}
	checkVectors(load(os.Args[1]))
	for _, path := range os.Args[2:] {
		checkClaims(load(path))
	}
	if failures > 0 {
		fmt.Printf("%d failure(s)\n", failures)
		os.Exit(1)
	}
	fmt.Println("interop: OK")
}
