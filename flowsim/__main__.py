from flowsim.cli import main

main()
