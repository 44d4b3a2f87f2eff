from gongshi.cli import main

main()
