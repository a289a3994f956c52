package main

// Ed25519 edge cases where implementations may disagree, with what Go's crypto/ed25519 says.

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/base64"
	"math/big"
)

var ed25519Order, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

func littleEndian(b []byte) *big.Int {
	r := make([]byte, len(b))
	for i := range b {
		r[len(b)-1-i] = b[i]
	}
	return new(big.Int).SetBytes(r)
}

func toLittle32(n *big.Int) []byte {
	be := n.FillBytes(make([]byte, 32))
	out := make([]byte, 32)
	for i := range be {
		out[31-i] = be[i]
	}
	return out
}

// edgeVectors: (1) a signature whose R is the identity point (small order), which only the key
// holder can make: S = H(R||A||M)*a satisfies the cofactorless equation, so Go accepts it while
// libsodium refuses small-order R; (2) a malleated S+L, which everyone must refuse.
func edgeVectors(key testKey) []map[string]any {
	priv := key.Signer.(ed25519.PrivateKey)
	pub := priv.Public().(ed25519.PublicKey)
	msg := []byte("argus small-order R test")
	h := sha512.Sum512(priv.Seed())
	h[0] &= 248
	h[31] &= 127
	h[31] |= 64
	a := littleEndian(h[:32])
	r := make([]byte, 32)
	r[0] = 1 // identity point encoding
	kh := sha512.New()
	kh.Write(r)
	kh.Write(pub)
	kh.Write(msg)
	k := new(big.Int).Mod(littleEndian(kh.Sum(nil)), ed25519Order)
	s := new(big.Int).Mod(new(big.Int).Mul(k, a), ed25519Order)
	smallR := append(append([]byte{}, r...), toLittle32(s)...)

	good := ed25519.Sign(priv, msg)
	sPlusL := new(big.Int).Add(littleEndian(good[32:]), ed25519Order)
	malleated := append(append([]byte{}, good[:32]...), toLittle32(sPlusL)...)

	out := []map[string]any{}
	for _, c := range []struct {
		name string
		sig  []byte
	}{{"valid", good}, {"small-order R", smallR}, {"S plus L", malleated}} {
		out = append(out, map[string]any{
			"name": c.name, "keyId": key.ID, "message": base64.StdEncoding.EncodeToString(msg),
			"signature": base64.StdEncoding.EncodeToString(c.sig), "goAccepts": ed25519.Verify(pub, msg, c.sig),
		})
	}
	return out
}
