#ifndef FRAMECACHE_H
#define FRAMECACHE_H

/* Bug: a statement macro that returns None without an incref. */
#define RETURN_NOTHING return Py_None

#endif
