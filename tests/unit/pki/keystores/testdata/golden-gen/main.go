// Command golden-gen writes the reference keystores that certkeeper's keystore tests compare against
// byte for byte. It calls the libraries cert-manager uses (go-pkcs12, keystore-go) with a deterministic
// random source, so certkeeper, given the same source, must produce identical files.
//
// Run from this directory: go run . ../  (see ../README.md).
package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	jks "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// counter yields 0x00, 0x01, 0x02, ... (wrapping), so every salt and IV is predictable.
type counter struct{ next byte }

func (c *counter) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.next
		c.next++
	}
	return len(p), nil
}

const password = "pässwörd-€"

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func readCerts(path string) []*x509.Certificate {
	data, err := os.ReadFile(path)
	must(err)
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return certs
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		must(err)
		certs = append(certs, cert)
	}
}

func main() {
	dir := os.Args[1]
	keyPEM, err := os.ReadFile(filepath.Join(dir, "vector-leaf-key.pem"))
	must(err)
	block, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	must(err)
	chain := readCerts(filepath.Join(dir, "vector-chain.pem"))
	cas := readCerts(filepath.Join(dir, "vector-ca.pem"))

	profiles := map[string]*pkcs12.Encoder{
		"LegacyRC2": pkcs12.LegacyRC2, "LegacyDES": pkcs12.LegacyDES,
		"Modern2023": pkcs12.Modern2023, "Modern2026": pkcs12.Modern2026,
	}
	out := filepath.Join(dir, "golden")
	must(os.MkdirAll(out, 0o755))
	for name, enc := range profiles {
		// As cert-manager's encodePKCS12Keystore: leaf, then chain[1:] followed by the CAs.
		ks, err := enc.WithRand(&counter{}).Encode(key, chain[0], append(chain[1:], cas...), password)
		must(err)
		must(os.WriteFile(filepath.Join(out, "keystore-"+name+".p12"), ks, 0o644))
		ts, err := enc.WithRand(&counter{}).EncodeTrustStore(cas, password)
		must(err)
		must(os.WriteFile(filepath.Join(out, "truststore-"+name+".p12"), ts, 0o644))
	}

	created := time.Date(2025, 6, 1, 12, 0, 0, 123_000_000, time.UTC)
	var raw []jks.Certificate
	for _, c := range chain {
		raw = append(raw, jks.Certificate{Type: "X509", Content: c.Raw})
	}
	ks := jks.New(jks.WithCustomRandomNumberGenerator(&counter{}))
	must(ks.SetPrivateKeyEntry("Certificate", jks.PrivateKeyEntry{
		CreationTime: created, PrivateKey: block.Bytes, CertificateChain: raw,
	}, []byte(password)))
	var buf bytes.Buffer
	must(ks.Store(&buf, []byte(password)))
	must(os.WriteFile(filepath.Join(out, "keystore.jks"), buf.Bytes(), 0o644))

	ts := jks.New()
	must(ts.SetTrustedCertificateEntry("ca", jks.TrustedCertificateEntry{
		CreationTime: created, Certificate: jks.Certificate{Type: "X509", Content: cas[0].Raw},
	}))
	buf.Reset()
	must(ts.Store(&buf, []byte(password)))
	must(os.WriteFile(filepath.Join(out, "truststore.jks"), buf.Bytes(), 0o644))

	var names bytes.Buffer
	for _, c := range append(chain, cas...) {
		fmt.Fprintln(&names, c.Subject.String())
	}
	must(os.WriteFile(filepath.Join(out, "subjects.txt"), names.Bytes(), 0o644))
}
