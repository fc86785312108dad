/*
 * banned.h - functions that have no place in q.  Include it last.
 *
 * Each is either unbounded (strcpy, strcat, sprintf, vsprintf, gets), keeps
 * hidden state (strtok), or cannot report errors (atoi, atol, atoll).  Use
 * strlcpy, strlcat, snprintf, strtonum or strtok_r instead.
 */
#ifndef SPOOL_BANNED_H
#define SPOOL_BANNED_H

#define BANNED(f) sorry_##f##_is_banned

#undef strcpy
#define strcpy(...)	BANNED(strcpy)
#undef strcat
#define strcat(...)	BANNED(strcat)
#undef strncpy
#define strncpy(...)	BANNED(strncpy)
#undef strncat
#define strncat(...)	BANNED(strncat)
#undef sprintf
#define sprintf(...)	BANNED(sprintf)
#undef vsprintf
#define vsprintf(...)	BANNED(vsprintf)
#undef gets
#define gets(...)	BANNED(gets)
#undef strtok
#define strtok(...)	BANNED(strtok)
#undef atoi
#define atoi(...)	BANNED(atoi)
#undef atol
#define atol(...)	BANNED(atol)
#undef atoll
#define atoll(...)	BANNED(atoll)

#endif
