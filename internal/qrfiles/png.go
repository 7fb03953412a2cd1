package qrfiles

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"sync"

	"github.com/ksef-sync/ksef-sync/internal/render"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Picture geometry: big enough to print sharply at the size kody-qr.md asks for, with the quiet
// zone of four modules readers need.
const (
	modulePx  = 8
	quietZone = 4
)

var (
	boldOnce sync.Once
	bold     *opentype.Font
	boldErr  error
)

func boldFont() (*opentype.Font, error) {
	boldOnce.Do(func() { bold, boldErr = opentype.Parse(gobold.TTF) })
	return bold, boldErr
}

// PNG draws link as a QR code (error correction M, as KSeF's own codes) with label centred under
// it in the Go bold font. Exported so that KOD I can be redrawn with the KSeF number once there is
// one.
func PNG(link, label string) ([]byte, error) {
	bits, err := render.QRModules(link)
	if err != nil {
		return nil, err
	}
	side := (len(bits) + 2*quietZone) * modulePx
	face, err := labelFace(label, side)
	if err != nil {
		return nil, err
	}
	defer face.Close()
	m := face.Metrics()
	labelH := (m.Ascent + m.Descent).Ceil()
	img := image.NewGray(image.Rect(0, 0, side, side+labelH+quietZone*modulePx/2))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	for y, row := range bits {
		for x, dark := range row {
			if dark {
				r := image.Rect(0, 0, modulePx, modulePx).Add(image.Pt((x+quietZone)*modulePx, (y+quietZone)*modulePx))
				draw.Draw(img, r, image.Black, image.Point{}, draw.Src)
			}
		}
	}
	d := font.Drawer{Dst: img, Src: image.NewUniform(color.Black), Face: face}
	w := d.MeasureString(label)
	d.Dot = fixed.Point26_6{X: (fixed.I(side) - w) / 2, Y: fixed.I(side) + m.Ascent - fixed.I(quietZone*modulePx/2)}
	d.DrawString(label)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("QR picture: %w", err)
	}
	return buf.Bytes(), nil
}

// labelFace picks a font size that fits label into the picture's width with a margin.
func labelFace(label string, width int) (font.Face, error) {
	f, err := boldFont()
	if err != nil {
		return nil, fmt.Errorf("QR label font: %w", err)
	}
	size := float64(quietZone * modulePx)
	for {
		face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
		if err != nil {
			return nil, fmt.Errorf("QR label font: %w", err)
		}
		if font.MeasureString(face, label).Ceil() <= width-2*modulePx || size <= 8 {
			return face, nil
		}
		face.Close()
		size--
	}
}
