/*
 * gw_want.h - what an endpoint wants of its socket: the mask that
 * gw_conn_poll (a client) and gw_upconn_poll (a pool connection to an
 * upstream) return, one bit each, the way redis's ae speaks of
 * AE_READABLE and AE_WRITABLE. gw_drive does what it says.
 */
#ifndef GW_WANT_H
#define GW_WANT_H

#define GW_WANT_READ        0x01u   /* read the socket */
#define GW_WANT_WRITE       0x02u   /* bytes wait to be written */
#define GW_WANT_CONNECT     0x04u   /* open the socket (a pool connection
                                       to its upstream) */
#define GW_WANT_CONNECTING  0x08u   /* connect() in progress: wait until
                                       the socket is writable */
#define GW_WANT_SHUT        0x10u   /* shutdown(SHUT_WR), then drain */
#define GW_WANT_CLOSE       0x20u   /* the endpoint is over: close its
                                       socket and let it go */

#endif /* GW_WANT_H */
