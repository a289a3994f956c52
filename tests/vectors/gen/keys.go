package main

// Fixed TEST-ONLY keys. Ed25519 keys come from fixed seeds; the RSA key is generated once and
// then read back from the committed PEM, so re-running the generator reproduces the same vectors
// (RSA PKCS#1 v1.5 and Ed25519 signatures are deterministic).

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
)

type testKey struct {
	ID        string
	Algorithm string
	Signer    crypto.Signer
	PublicPEM string
}

func writePEM(path, blockType string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o644)
}

func publicPEM(pub crypto.PublicKey) (string, []byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", nil, err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), der, nil
}

func ed25519Key(dir, id string) (testKey, error) {
	seed := sha256.Sum256([]byte("argus TEST-ONLY vector key " + id))
	priv := ed25519.NewKeyFromSeed(seed[:])
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return testKey{}, err
	}
	if err := writePEM(filepath.Join(dir, id+".private.pem"), "PRIVATE KEY", privDER); err != nil {
		return testKey{}, err
	}
	text, pubDER, err := publicPEM(priv.Public())
	if err != nil {
		return testKey{}, err
	}
	if err := writePEM(filepath.Join(dir, id+".pem"), "PUBLIC KEY", pubDER); err != nil {
		return testKey{}, err
	}
	return testKey{ID: id, Algorithm: "EdDSA", Signer: priv, PublicPEM: text}, nil
}

func rsaKey(dir, id string) (testKey, error) {
	privPath := filepath.Join(dir, id+".private.pem")
	var priv *rsa.PrivateKey
	if data, err := os.ReadFile(privPath); err == nil {
		block, _ := pem.Decode(data)
		if block == nil {
			return testKey{}, fmt.Errorf("%s: no PEM block", privPath)
		}
		parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return testKey{}, fmt.Errorf("%s: %w", privPath, err)
		}
		priv = parsed.(*rsa.PrivateKey)
	} else {
		if priv, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return testKey{}, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return testKey{}, err
		}
		if err := writePEM(privPath, "PRIVATE KEY", der); err != nil {
			return testKey{}, err
		}
	}
	text, pubDER, err := publicPEM(&priv.PublicKey)
	if err != nil {
		return testKey{}, err
	}
	if err := writePEM(filepath.Join(dir, id+".pem"), "PUBLIC KEY", pubDER); err != nil {
		return testKey{}, err
	}
	pkcs1 := x509.MarshalPKCS1PublicKey(&priv.PublicKey)
	if err := writePEM(filepath.Join(dir, id+".pkcs1.pem"), "RSA PUBLIC KEY", pkcs1); err != nil {
		return testKey{}, err
	}
	return testKey{ID: id, Algorithm: "RS256", Signer: priv, PublicPEM: text}, nil
}

// signPayload mirrors the reference client's SignPayload: RS256 signs SHA-256(payload) with
// PKCS#1 v1.5; Ed25519 signs the payload itself (pure EdDSA).
func signPayload(key testKey, payload []byte) ([]byte, error) {
	switch k := key.Signer.(type) {
	case *rsa.PrivateKey:
		hash := sha256.Sum256(payload)
		return rsa.SignPKCS1v15(nil, k, crypto.SHA256, hash[:])
	case ed25519.PrivateKey:
		return ed25519.Sign(k, payload), nil
	}
	return nil, fmt.Errorf("unsupported key %T", key.Signer)
}
