/*
 * wgts native addon: the MTU of the route a packet to an address takes, for padding (the
 * whitepaper's section 5.4.6 pads "up to the MTU"; the kernel's wg_xmit takes that MTU from the
 * packet's route, dst_mtu(skb_dst(skb)), so `ip route add ... dev wg0 mtu 1299` caps padding at
 * 1299 even on a 1300-byte device; the selftest's "route MTUs work with the padding").
 *
 *   routeMtu(family, bytes, offset) -> number   the MTU of the kernel's route to the 4 or 16
 *                                                address bytes at bytes[offset..]: connect(2) of
 *                                                a UDP socket (a route lookup, nothing is sent),
 *                                                then IP_MTU / IPV6_MTU; 0 when there is no route
 *
 * It asks the daemon's own network namespace; route changes are watched with route-check.c's
 * routeCheckWatch. No protocol decision here: src/device/route-mtu.ts decides when to ask and
 * what to do with the answer.
 */
#include "common.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static napi_value route_mtu(napi_env env, napi_callback_info info) {
  WGTS_ARGS(env, info, 3, argv);
  int32_t family;
  uint32_t offset;
  uint8_t *bytes;
  size_t len;
  if (wgts_arg_i32(env, argv[0], "family", &family) != 0) return NULL;
  if (wgts_arg_bytes(env, argv[1], "bytes", &bytes, &len) != 0) return NULL;
  if (wgts_arg_u32(env, argv[2], "offset", &offset) != 0) return NULL;
  if (family != 4 && family != 6) return wgts_throw_range(env, "family must be 4 or 6");
  size_t n = family == 4 ? 4 : 16;
  if (offset > len || len - offset < n) return wgts_throw_range(env, "address out of bounds");
  int af = family == 4 ? AF_INET : AF_INET6;
  int mtu = 0;
  int s = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s >= 0) {
    struct sockaddr_in6 sa;
    socklen_t salen = wgts_fill_addr(&sa, af, bytes + offset, 9);
    socklen_t ol = sizeof mtu;
    if (connect(s, (struct sockaddr *)&sa, salen) != 0 ||
        getsockopt(s, af == AF_INET ? IPPROTO_IP : IPPROTO_IPV6, af == AF_INET ? IP_MTU : IPV6_MTU, &mtu,
                   &ol) != 0)
      mtu = 0;
    close(s);
  }
  napi_value out;
  WGTS_CHECK(env, napi_create_int32(env, mtu, &out));
  return out;
}

napi_status wgts_init_route_mtu(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"routeMtu", NULL, route_mtu, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
