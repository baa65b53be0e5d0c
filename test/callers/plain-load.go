// A Go service under load: N goroutines send plain NATS requests (nats.go,
// no DIPS code) for a while and count what comes back. Prints one JSON line.
//
//	plain-load <servers> <function> <callers> <seconds>
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

type counts struct {
	Calls      int            `json:"calls"`
	Images     int            `json:"images"`
	Empty      int            `json:"empty"`
	Other      int            `json:"other"`
	Errors     map[string]int `json:"errors"`
	NoReply    int            `json:"noReply"`
	SlowestMs  int64          `json:"slowestMs"`
	FirstOther string         `json:"firstOther,omitempty"`
}

var png = []byte("\x89PNG\r\n\x1a\n")

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: plain-load <servers> <function> <callers> <seconds>")
		os.Exit(64)
	}
	callers, _ := strconv.Atoi(os.Args[3])
	seconds, _ := strconv.Atoi(os.Args[4])
	nc, err := nats.Connect(os.Args[1], nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(69)
	}
	defer nc.Close()
	values := make([]int, 80)
	for i := range values {
		values[i] = (i * 37) % 100
	}
	body, _ := json.Marshal(map[string]any{"pSN": "42", "pData": values})

	var mu sync.Mutex
	total := counts{Errors: map[string]int{}}
	end := time.Now().Add(time.Duration(seconds) * time.Second)
	var wg sync.WaitGroup
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				msg := nats.NewMsg("dips.fn." + os.Args[2])
				msg.Data = body
				msg.Header.Set("Dips-Encoding", "json")
				started := time.Now()
				reply, err := nc.RequestMsg(msg, 10*time.Second)
				took := time.Since(started).Milliseconds()
				mu.Lock()
				total.Calls++
				if took > total.SlowestMs {
					total.SlowestMs = took
				}
				switch {
				case err != nil:
					total.NoReply++
					if total.FirstOther == "" {
						total.FirstOther = err.Error()
					}
				case reply.Header.Get("Nats-Service-Error-Code") != "":
					total.Errors[reply.Header.Get("Nats-Service-Error-Code")]++
				case len(reply.Data) == 0:
					total.Empty++
					if total.FirstOther == "" {
						total.FirstOther = fmt.Sprintf("empty reply, headers %v", reply.Header)
					}
				case bytes.HasPrefix(reply.Data, png):
					total.Images++
				default:
					total.Other++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	out, _ := json.Marshal(total)
	fmt.Println(string(out))
}
