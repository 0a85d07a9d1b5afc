// gopacket-reasm: reassemble the TCP streams of a pcap/pcapng file with
// gopacket's reassembly package and print one line per direction, in the
// same format as safereasm-pcap:
//
//	src:port>dst:port delivered skipped conflicts sha256
//
// sorted bytewise. gopacket does not compare overlapping bytes, so the
// conflicts column is always "-". Built offline from Debian's packages:
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build
//
// Copyright (c) 2026 The safereasm authors. SPDX-License-Identifier: BSD-3-Clause
package main

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"hash"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/google/gopacket/reassembly"
)

var (
	allowMissingInit = flag.Bool("allowmissinginit", false, "start a direction at its first segment when no SYN was seen (default: gopacket's own behaviour, wait for a SYN and release the queued data at the end)")
	showEmpty        = flag.Bool("empty", false, "also print directions that carried no data")
	pagesTotal       = flag.Int("pages-total", 0, "MaxBufferedPagesTotal (0 = unlimited, gopacket's default)")
	pagesConn        = flag.Int("pages-conn", 0, "MaxBufferedPagesPerConnection (0 = unlimited, gopacket's default)")
	timeout          = flag.Duration("timeout", 120*time.Second, "close connections idle this long (capture time)")
	noStats          = flag.Bool("no-stats", false, "do not print the counters")
	digest           = flag.String("digest", "sha256", "per-direction digest: sha256 (crypto/sha256) or none (count bytes only; the column is \"-\")")
)

type dirState struct {
	sha       hash.Hash
	delivered uint64
	skipped   uint64
	seen      bool
}

type stream struct {
	key  string // "src:port>dst:port" of the client->server direction
	rkey string
	d    [2]dirState
}

type results struct {
	mu    sync.Mutex
	lines []string
}

var res results

func epString(ip net.IP, port layers.TCPPort) string {
	if ip.To4() != nil {
		return fmt.Sprintf("%s:%d", ip.String(), port)
	}
	return fmt.Sprintf("[%s]:%d", ip.String(), port)
}

type factory struct{}

func (factory) New(netFlow, tcpFlow gopacket.Flow, tcp *layers.TCP, ac reassembly.AssemblerContext) reassembly.Stream {
	src := net.IP(netFlow.Src().Raw())
	dst := net.IP(netFlow.Dst().Raw())
	s := &stream{
		key:  epString(src, tcp.SrcPort) + ">" + epString(dst, tcp.DstPort),
		rkey: epString(dst, tcp.DstPort) + ">" + epString(src, tcp.SrcPort),
	}
	if *digest != "none" {
		s.d[0].sha = sha256.New()
		s.d[1].sha = sha256.New()
	}
	return s
}

func dirIndex(d reassembly.TCPFlowDirection) int {
	if d == reassembly.TCPDirClientToServer {
		return 0
	}
	return 1
}

func (s *stream) Accept(tcp *layers.TCP, ci gopacket.CaptureInfo, dir reassembly.TCPFlowDirection, nextSeq reassembly.Sequence, start *bool, ac reassembly.AssemblerContext) bool {
	if *allowMissingInit {
		*start = true
	}
	return true
}

func (s *stream) ReassembledSG(sg reassembly.ScatterGather, ac reassembly.AssemblerContext) {
	dir, _, _, skip := sg.Info()
	n, _ := sg.Lengths()
	d := &s.d[dirIndex(dir)]
	d.seen = true
	if skip > 0 { // -1 means "start unknown", not a hole
		d.skipped += uint64(skip)
	}
	if n > 0 {
		if d.sha != nil {
			d.sha.Write(sg.Fetch(n))
		}
		d.delivered += uint64(n)
	}
}

func (s *stream) ReassemblyComplete(ac reassembly.AssemblerContext) bool {
	res.mu.Lock()
	defer res.mu.Unlock()
	for i, k := range []string{s.key, s.rkey} {
		d := &s.d[i]
		if !*showEmpty && d.delivered == 0 && d.skipped == 0 {
			continue
		}
		sum := "-"
		if d.sha != nil {
			sum = hex.EncodeToString(d.sha.Sum(nil))
		}
		res.lines = append(res.lines, fmt.Sprintf("%s %d %d - %s", k, d.delivered, d.skipped, sum))
	}
	return true
}

// packetSource yields (data, capture info) from pcap or pcapng, gzip or not.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

func open(path string) (packetSource, layers.LinkType, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, err
	}
	br := bufio.NewReaderSize(f, 1<<16)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, 0, nil, err
		}
		r = bufio.NewReaderSize(gz, 1<<16)
	}
	rb := r.(*bufio.Reader)
	magic, err := rb.Peek(4)
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	if magic[0] == 0x0a && magic[1] == 0x0d && magic[2] == 0x0d && magic[3] == 0x0a {
		ng, err := pcapgo.NewNgReader(rb, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			f.Close()
			return nil, 0, nil, err
		}
		return ng, ng.LinkType(), func() { f.Close() }, nil
	}
	pr, err := pcapgo.NewReader(rb)
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	return pr, pr.LinkType(), func() { f.Close() }, nil
}

type ctx struct{ ci gopacket.CaptureInfo }

func (c *ctx) GetCaptureInfo() gopacket.CaptureInfo { return c.ci }

func main() {
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: gopacket-reasm [flags] FILE\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	src, lt, closer, err := open(flag.Arg(0))
	if err != nil {
		fmt.Fprintf(os.Stderr, "gopacket-reasm: %s: %v\n", flag.Arg(0), err)
		os.Exit(1)
	}
	defer closer()

	pool := reassembly.NewStreamPool(factory{})
	asm := reassembly.NewAssembler(pool)
	asm.MaxBufferedPagesTotal = *pagesTotal
	asm.MaxBufferedPagesPerConnection = *pagesConn

	var frames, tcpSegs, fragments, undecoded uint64
	var lastFlush time.Time
	for {
		data, ci, err := src.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "gopacket-reasm: after frame %d: %v\n", frames, err)
			break
		}
		frames++
		pkt := gopacket.NewPacket(data, lt, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		// The flow is that of the innermost IP header before TCP (tunnels);
		// TCP quoted inside ICMP is never decoded as a TCP layer by gopacket.
		var netFlow gopacket.Flow
		var tcp *layers.TCP
		frag := false
		for _, l := range pkt.Layers() {
			switch v := l.(type) {
			case *layers.IPv4:
				netFlow = v.NetworkFlow()
				if v.Flags&layers.IPv4MoreFragments != 0 || v.FragOffset != 0 {
					frag = true
				}
			case *layers.IPv6:
				netFlow = v.NetworkFlow()
			case *layers.IPv6Fragment:
				frag = true
			case *layers.TCP:
				if tcp == nil {
					tcp = v
				}
			}
		}
		if frag {
			fragments++
			continue
		}
		if tcp == nil || len(netFlow.Src().Raw()) == 0 {
			undecoded++
			continue
		}
		tcpSegs++
		c := &ctx{ci: ci}
		asm.AssembleWithContext(netFlow, tcp, c)
		if lastFlush.IsZero() {
			lastFlush = ci.Timestamp
		}
		if ci.Timestamp.Sub(lastFlush) > 10*time.Second {
			asm.FlushCloseOlderThan(ci.Timestamp.Add(-*timeout))
			lastFlush = ci.Timestamp
		}
	}
	asm.FlushAll()
	sort.Strings(res.lines)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	fmt.Fprint(out, strings.Join(res.lines, "\n"))
	if len(res.lines) > 0 {
		fmt.Fprintln(out)
	}
	if !*noStats {
		fmt.Fprintf(out, "# frames %d\n# decode tcp %d\n# decode fragments %d\n# decode other %d\n", frames, tcpSegs, fragments, undecoded)
	}
}
