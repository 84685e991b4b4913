package parking

import "fmt"

// minorDigits lists currencies whose minor unit is not a hundredth.
var minorDigits = map[string]int{"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}

// FormatMoney writes an amount in minor units as "12.50 USD".
func FormatMoney(amount int64, currency string) string {
	digits, ok := minorDigits[currency]
	if !ok {
		digits = 2
	}
	if digits == 0 {
		return fmt.Sprintf("%d %s", amount, currency)
	}
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	div := int64(1)
	for range digits {
		div *= 10
	}
	return fmt.Sprintf("%s%d.%0*d %s", sign, amount/div, digits, amount%div, currency)
}
