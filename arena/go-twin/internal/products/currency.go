package products

import (
	_ "embed"
	"strings"
)

//go:embed currencies.txt
var currencyList string

var currencies = func() map[string]struct{} {
	m := make(map[string]struct{}, 200)
	for _, line := range strings.Split(currencyList, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, code := range strings.Fields(line) {
			m[code] = struct{}{}
		}
	}
	return m
}()

func validCurrency(code string) bool {
	_, ok := currencies[code]
	return ok
}
