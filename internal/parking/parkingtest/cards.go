package parkingtest

import "parkd/internal/parking"

// Rows is what database/sql's and pgx's query results both do.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// CardNumbersIn reads rows, the columns cols of table, and describes each
// text or binary value that holds a card number (parking.FindCardNumber),
// its digits hidden: "payments.payment_method: [card number]". Numbers and
// times are passed over: they are not where a card number hides, and an
// integer timestamp may pass the Luhn check by chance. The caller closes rows.
func CardNumbersIn(table string, cols []string, rows Rows) ([]string, error) {
	var found []string
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return found, err
		}
		for i, v := range vals {
			var text string
			switch v := v.(type) {
			case string:
				text = v
			case []byte:
				text = string(v)
			default:
				continue
			}
			if parking.FindCardNumber(text) != "" {
				text = parking.RedactCardNumbers(text)
				if len(text) > 200 {
					text = text[:200] + "…"
				}
				found = append(found, table+"."+cols[i]+": "+text)
			}
		}
	}
	return found, rows.Err()
}
