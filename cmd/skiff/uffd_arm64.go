package main

// sysUserfaultfd is userfaultfd(2)'s system call number on arm64.
const sysUserfaultfd = 282
