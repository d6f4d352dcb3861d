// Command go-twin is the Go twin of the overkill products service.
package main

import "os"

func main() {
	stopProfile := startProfile()
	code := run()
	stopProfile()
	os.Exit(code)
}
