# The wgts native addon (native/, Node-API C): TUN, UDP (recvmmsg/sendmmsg), SO_MARK, batched
# readers on Node's event loop, bulk ChaCha20-Poly1305 on Node's OpenSSL, TUN/UDP offloads.
# Built by node-gyp into build/Release/wgts_native.node.
# Linux only. -O2 replaces the -O3 of Node's common.gypi (the later flag wins). Every size and
# limit of the C code is in native/limits.h. scripts/asan.sh builds these same sources with
# -fsanitize=address,undefined (through CFLAGS/LDFLAGS) in a scratch copy for CI's sanitizer job.
{
  "targets": [
    {
      "target_name": "wgts_native",
      "sources": [
        "native/common.c",
        "native/tun.c",
        "native/tun-link.c",
        "native/route-mtu.c",
        "native/udp.c",
        "native/route-check.c",
        "native/reader.c",
        "native/aead.c",
        "native/chacha-poly.c",
        "native/crypto-pool.c",
        "native/offload.c",
        "native/csum.c",
        "native/process.c",
        "native/link-watch.c"
      ],
      "defines": ["_GNU_SOURCE"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags!": ["-O3"],
      "conditions": [
        ["OS!='linux'", { "sources!": ["native/common.c", "native/tun.c", "native/tun-link.c", "native/route-mtu.c", "native/udp.c", "native/route-check.c", "native/reader.c", "native/aead.c", "native/chacha-poly.c", "native/crypto-pool.c", "native/offload.c", "native/csum.c", "native/process.c", "native/link-watch.c"] }]
      ]
    }
  ]
}
