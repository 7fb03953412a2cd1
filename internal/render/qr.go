package render

import (
	"fmt"

	qrcode "github.com/yeqown/go-qrcode/v2"
)

// QRModules encodes a verification link as a QR code (error correction M, as KSeF's own codes) and
// returns its modules, true = dark, without the quiet zone. The PDFs here and the PNGs of
// internal/qrfiles draw the same codes from it. Verification links take fastQR, which makes
// go-qrcode's modules in a fraction of its time; anything else goes to go-qrcode.
func QRModules(link string) ([][]bool, error) {
	if bits, ok := fastQR(link); ok {
		return bits, nil
	}
	q, err := qrcode.NewWith(link, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		return nil, fmt.Errorf("QR code: %w", err)
	}
	var m matrixWriter
	if err := q.Save(&m); err != nil {
		return nil, fmt.Errorf("QR code: %w", err)
	}
	return m.bits, nil
}

// matrixWriter receives the module matrix from go-qrcode instead of an image.
type matrixWriter struct{ bits [][]bool }

func (w *matrixWriter) Write(m qrcode.Matrix) error {
	w.bits = m.Bitmap()
	return nil
}

func (w *matrixWriter) Close() error { return nil }
