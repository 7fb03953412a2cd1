package xades

import (
	"crypto/ecdsa"
	"encoding/asn1"
	"fmt"
	"math/big"
)

// P1363 turns the ASN.1 DER signature a crypto.Signer gives for ECDSA into the fixed-size R||S
// concatenation (IEEE P1363) that XML-DSig and KSeF's KOD II expect.
func P1363(der []byte, pub *ecdsa.PublicKey) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &rs); err != nil {
		return nil, fmt.Errorf("ecdsa signature: %w", err)
	}
	size := (pub.Curve.Params().BitSize + 7) / 8
	out := make([]byte, 2*size)
	rs.R.FillBytes(out[:size])
	rs.S.FillBytes(out[size:])
	return out, nil
}
