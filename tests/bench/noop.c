/* noop.c - does nothing: the cost of starting a static process. */
int
main(void)
{
	return 0;
}
