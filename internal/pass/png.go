package pass

import (
	"rsc.io/qr"

	"parkd/internal/parking"
)

// MaxPNGSize bounds the side of a pass image, in pixels.
const MaxPNGSize = 4096

// PNG returns a QR code of code as a PNG image about size pixels on a side,
// quiet zone included, with error correction level M (about 15% of the symbol
// may be lost). An image has at least two pixels per module, so a very small
// size gives a larger image.
func PNG(code string, size int) ([]byte, error) {
	switch {
	case code == "":
		return nil, parking.Errorf(parking.EINVALID, "no code to draw")
	case size <= 0 || size > MaxPNGSize:
		return nil, parking.Errorf(parking.EINVALID, "image size must be 1-%d pixels", MaxPNGSize)
	}
	c, err := qr.Encode(code, qr.M)
	if err != nil {
		return nil, parking.Errorf(parking.EINVALID, "code does not fit in a QR image: %v", err)
	}
	// rsc.io/qr draws a quiet zone of 4 modules on each side. Its PNG writer
	// panics at one pixel per module (it emits a deflate copy of length 0 for
	// the repeated rows), so the scale is at least 2.
	modules := c.Size + 8
	c.Scale = max(2, (size+modules/2)/modules)
	return c.PNG(), nil
}
